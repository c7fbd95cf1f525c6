//! Rebuild when the web UI's build output changes: `rust-embed` embeds `ui/dist` in release
//! builds, but cargo only tracks files it already embedded, not files added later (a fresh
//! build after `make ui`, or new hashed names).

fn main() {
    println!("cargo:rerun-if-changed=../../ui/dist");
    println!("cargo:rerun-if-changed=build.rs");
    if !std::path::Path::new("../../ui/dist/index.html").exists() {
        println!(
            "cargo:warning=ui/dist is missing: the admin page will say the web UI is not built (run `make ui` first)"
        );
    }
}
