import "./lib/locale-guard";
import { mount } from "svelte";
import App from "./App.svelte";

// Any uncaught error becomes visible text: a blank window is never silent.
const errors = document.getElementById("errors")!;
const report = (message: string) => {
  errors.hidden = false;
  errors.textContent += message + "\n";
};
window.addEventListener("error", (e) => report(String(e.message)));
window.addEventListener("unhandledrejection", (e) => report(String(e.reason)));

mount(App, { target: document.getElementById("app")! });
