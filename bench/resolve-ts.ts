/**
 * Lets Node run the benchmark's TypeScript as written: the project imports
 * without extensions (bundler resolution, as wrangler builds it), which
 * Node's own type stripping cannot resolve. Loaded with `node --import`.
 */
import { registerHooks } from "node:module";

const RECOVERABLE = new Set(["ERR_MODULE_NOT_FOUND", "ERR_UNSUPPORTED_DIR_IMPORT"]);

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      const relative = specifier.startsWith("./") || specifier.startsWith("../");
      if (!relative || !RECOVERABLE.has((err as { code?: string }).code ?? "")) throw err;
      for (const candidate of [`${specifier}.ts`, `${specifier}/index.ts`]) {
        try {
          return nextResolve(candidate, context);
        } catch {
          // try the next form
        }
      }
      throw err;
    }
  },
});
