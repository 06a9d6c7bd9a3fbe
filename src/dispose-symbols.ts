/**
 * `Symbol.dispose` / `Symbol.asyncDispose` (explicit resource management: `using x = …`) where the
 * engine lacks them, under the same registered symbols Node's own polyfill uses, so objects made
 * disposable here also work with a later native or TypeScript-emitted `using`.
 */
declare global {
  // Declared here, as @types/node and TypeScript's esnext.disposable lib do, so the published types
  // type-check in a consumer that has neither.
  interface SymbolConstructor {
    readonly dispose: unique symbol;
    readonly asyncDispose: unique symbol;
  }
}

const symbols = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
if (typeof symbols.dispose !== "symbol") Object.defineProperty(Symbol, "dispose", { value: Symbol.for("nodejs.dispose") });
if (typeof symbols.asyncDispose !== "symbol") Object.defineProperty(Symbol, "asyncDispose", { value: Symbol.for("nodejs.asyncDispose") });

export const disposeSymbol: typeof Symbol.dispose = Symbol.dispose;
export const asyncDisposeSymbol: typeof Symbol.asyncDispose = Symbol.asyncDispose;
