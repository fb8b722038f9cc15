//! Build script of the `dnspect` binary: two facts the binary embeds.
//!
//! 1. `DNSPECT_VERSION`: the crate version and the commit it was built from (`git rev-parse`), so
//!    `dnspect --version` names the exact source. Outside a git checkout (a source tarball, a
//!    container build context without `.git`) it says so, or takes `DNSPECT_COMMIT` from the
//!    environment; the build never fails for want of git.
//! 2. The web page for `dnspect web`: `www/dist` (built by `npm run build -w www`, after
//!    `scripts/build-wasm.sh`) is copied to `$OUT_DIR/page` and embedded with `include_dir!`.
//!    When it is missing (a fresh checkout, `cargo build` alone) a placeholder page is embedded
//!    instead that says how to build the real one, and `DNSPECT_PAGE=placeholder` tells the binary
//!    (it warns at start; tests/tests/web.rs fails under CI=true). `DNSPECT_PAGE_DIR` points at
//!    another built page.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    version(&manifest);
    page(&manifest, &out);
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn version(manifest: &Path) {
    println!("cargo:rerun-if-env-changed=DNSPECT_COMMIT");
    let pkg = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = match std::env::var("DNSPECT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => Some(c.trim().to_string()),
        _ => git(manifest, &["rev-parse", "--short=12", "HEAD"]),
    };
    let text = match commit {
        Some(c) => {
            let date = git(manifest, &["log", "-1", "--format=%cs", "HEAD"]);
            match date {
                Some(d) => format!("{pkg} (commit {c}, {d})"),
                None => format!("{pkg} (commit {c})"),
            }
        }
        None => format!("{pkg} (commit unknown: not built from a git checkout)"),
    };
    println!("cargo:rustc-env=DNSPECT_VERSION={text}");
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it names (a commit) and the
    // packed refs. Only paths that exist: a missing one would rerun this script on every build.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(r) = git(manifest, &["rev-parse", "--symbolic-full-name", "HEAD"]) {
        if r.starts_with("refs/") {
            watch.push(r);
        }
    }
    for w in watch {
        if let Some(p) = git(
            manifest,
            &["rev-parse", "--path-format=absolute", "--git-path", &w],
        ) {
            if Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
}

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="dnspect-page" content="placeholder" />
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'" />
    <title>dnspect: the page is not built into this binary</title>
    <style>body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem; } code, pre { background: #eee; padding: 0 .2em; }</style>
  </head>
  <body>
    <h1>dnspect: the web page is not built into this binary</h1>
    <p>This <code>dnspect</code> was compiled before the web page was built (<code>www/dist</code>
    was missing), so <code>dnspect web</code> can only show this note.</p>
    <p>Build the page, then the binary again; it embeds the page it finds:</p>
    <pre>bash scripts/build-page.sh
cargo build --release -p dnspect</pre>
    <p>The analyzer works without it: <code>dnspect decode --example incident-000</code>.</p>
  </body>
</html>
"#;

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(to)?;
    let mut bytes = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            bytes += copy_dir(&entry.path(), &target)?;
        } else {
            bytes += std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(bytes)
}

fn page(manifest: &Path, out: &Path) {
    println!("cargo:rerun-if-env-changed=DNSPECT_PAGE_DIR");
    let www = manifest.join("../www");
    let dist = std::env::var_os("DNSPECT_PAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| www.join("dist"));
    let dest = out.join("page");
    let _ = std::fs::remove_dir_all(&dest);
    let built = dist.join("index.html").is_file();
    if built {
        if let Err(e) = copy_dir(&dist, &dest) {
            panic!(
                "cannot copy the page {} to {}: {e}",
                dist.display(),
                dest.display()
            );
        }
        // The page itself: rebuilt page, rebuilt binary.
        println!("cargo:rerun-if-changed={}", dist.display());
        println!("cargo:rustc-env=DNSPECT_PAGE=built");
    } else {
        if let Err(e) = std::fs::create_dir_all(&dest)
            .and_then(|()| std::fs::write(dest.join("index.html"), PLACEHOLDER))
        {
            panic!(
                "cannot write the placeholder page to {}: {e}",
                dest.display()
            );
        }
        // Watch www/ (it exists in every checkout) to notice dist/ appearing; watching the
        // missing dist/ itself would rerun this script, and rebuild the binary, on every build.
        if www.is_dir() {
            println!("cargo:rerun-if-changed={}", www.display());
        }
        println!("cargo:rustc-env=DNSPECT_PAGE=placeholder");
        println!(
            "cargo:warning=www/dist is missing: `dnspect web` will serve a placeholder page (build the page with scripts/build-page.sh, then the binary again)"
        );
    }
}
