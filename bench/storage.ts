/**
 * The bench's storage in a process of its own: DynamoDB Local (or dynalite) and s3rver, as
 * `seglog dev` starts them. On AWS, S3 and DynamoDB are not on the machine that runs the
 * functions; here s3rver runs on a Node event loop, and sharing that loop with the handlers (or
 * with the bare workers) would charge its work to whichever side shares it.
 *
 * Prints the stack's description as one JSON line on stdout, then runs until stdin closes.
 */
import { startLocalStack } from "../src/local/stack.ts";

const stack = await startLocalStack({ log: (line) => process.stderr.write(`${line}\n`) });
const { stop, ...description } = stack;
process.stdout.write(`${JSON.stringify(description)}\n`);
process.stdin.resume();
process.stdin.on("end", () => void stop().then(() => process.exit(0)));
