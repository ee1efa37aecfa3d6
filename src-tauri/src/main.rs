//! `gatewatch`: the desktop app. `--demo` watches an embedded simulator.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    gatewatch_desktop::run();
}
