//! Embeds the Tauri configuration and the UI at compile time.

fn main() {
    tauri_build::build()
}
