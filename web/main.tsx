/**
 * The edgechat web app: hono/jsx/dom over the client SDK (src/client).
 * Message text is only ever rendered as JSX text (a DOM text node), and the
 * Content-Security-Policy (public/_headers) allows no inline script at all.
 */
import { render } from "hono/jsx/dom";
import { App } from "./app";

const root = document.getElementById("app");
if (root) render(<App />, root);
