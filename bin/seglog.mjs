#!/usr/bin/env node
// The `seglog` command. Runs the TypeScript sources through tsx, so `npx seglog` works after `npm ci`.
import { register } from "tsx/esm/api";

// Seglog supports Node 20 (Lambda runs newer); the SDK's notice about its own future plans is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

// A reader that stops early (`seglog consume … | head`) closes the pipe: stop quietly, as Unix
// tools do on SIGPIPE, rather than die of an unhandled EPIPE with a stack trace. A command that
// stops cleanly on Ctrl-C (a group member commits and leaves) is asked to stop the same way.
let piped = false;
process.stdout.on("error", (e) => {
  if (e.code !== "EPIPE") throw e;
  if (piped) return;
  piped = true;
  if (process.listenerCount("SIGTERM") > 0) process.emit("SIGTERM", "SIGTERM");
  else process.exit(process.exitCode ?? 0);
});

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
