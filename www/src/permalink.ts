// The permalink: the paste and the page's settings in the URL fragment, which browsers never send
// to a server. "#z1.<base64url of deflate-raw JSON>" where the browser can compress, otherwise
// "#j1.<base64url of JSON>". Hand-made links may also say "#hex=78fd8180...".

export interface Shared {
  /** the paste, exactly as typed */
  p: string;
  /** the open tab */
  t?: string;
  /** the selected field's path in the tree */
  f?: string;
  /** the truncate limit */
  l?: number;
  /** simulator settings */
  s?: Record<string, unknown>;
}

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

async function through(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

const canZip = typeof CompressionStream === "function" && typeof DecompressionStream === "function";

export async function encodeFragment(state: Shared): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(state));
  if (canZip) {
    try {
      return `z1.${b64url(await through(json, new CompressionStream("deflate-raw")))}`;
    } catch {
      /* fall through to plain JSON */
    }
  }
  return `j1.${b64url(json)}`;
}

/** Reads a fragment (without the '#'); null when it holds no paste. Throws on a damaged link. */
export async function decodeFragment(frag: string): Promise<Shared | null> {
  if (!frag) return null;
  if (frag.startsWith("z1.")) {
    if (!canZip) throw new Error("this browser cannot decompress the link (no DecompressionStream)");
    const json = await through(unb64url(frag.slice(3)), new DecompressionStream("deflate-raw"));
    return check(JSON.parse(new TextDecoder().decode(json)));
  }
  if (frag.startsWith("j1.")) {
    return check(JSON.parse(new TextDecoder().decode(unb64url(frag.slice(3)))));
  }
  const params = new URLSearchParams(frag);
  const p = params.get("hex") ?? params.get("paste");
  if (p === null) return null;
  return { p, t: params.get("tab") ?? undefined };
}

function check(v: unknown): Shared {
  if (!v || typeof v !== "object" || typeof (v as Shared).p !== "string") throw new Error("the link holds no paste");
  return v as Shared;
}
