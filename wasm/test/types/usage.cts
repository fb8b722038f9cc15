// The CommonJS entry's types (`require("dnspect")`), compiled by test/types.test.mjs.
import dnspect = require("dnspect");

const m: dnspect.Message = dnspect.decode(new Uint8Array(12));
const out: Uint8Array = dnspect.encode(m);
const e = new dnspect.DnspectError("x", { kind: "argument" });
const kind: dnspect.DnspectErrorKind = e.kind;
const ready: Promise<void> = dnspect.init();
dnspect.initSync();
// @ts-expect-error: not an export
dnspect.nothing;

export = { out, kind, ready };
