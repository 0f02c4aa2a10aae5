/** `.wasm` imports are compiled modules (wrangler's CompiledWasm rule; the fuzz bundle does the same). */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
