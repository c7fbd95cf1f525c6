fn main() {
    // The shell's own commands get permissions (`allow-<name>`) that the window's runtime
    // capability grants to the admin origin; the list matches `commands::ALL`.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "desktop_info",
        "pick_folder",
        "reveal_data_dir",
        "allow_low_ports",
        "hosts_elevated",
    ]);
    if let Err(err) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
    {
        panic!("tauri build script failed: {err:#}");
    }
}
