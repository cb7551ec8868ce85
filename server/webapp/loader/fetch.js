async function fetchWithProgress(url, progess) {
  // Tether (server/webapp): the fetched response itself goes to
  // WebAssembly.instantiateStreaming, untouched, and no byte is counted.
  // go-app's loader hands over a Response rebuilt from a stream to count
  // them for its progress label: such a Response has no URL, and Chromium
  // keeps a compiled module in its wasm code cache only for a response
  // fetched from one. Counting the bytes of a clone instead tees the body:
  // every chunk of the uncompressed bundle is then copied through the
  // page's thread (about 0.1 s of it on a small machine, measured) rather
  // than streamed to the compiler by the browser. The loader's spinner and
  // label stay; webapp takes "{progress}" out of the label.
  return fetch(url);
}
