async function fetchWithProgress(url, progess) {
  const response = await fetch(url);

  let contentLength = goappWasmContentLength;
  if (contentLength <= 0) {
    try {
      contentLength = response.headers.get(goappWasmContentLengthHeader);
    } catch { }
    if (!goappWasmContentLengthHeader || !contentLength) {
      contentLength = response.headers.get("Content-Length");
    }
  }

  const total = parseInt(contentLength, 10);
  let loaded = 0;

  const progressHandler = function (loaded, total) {
    progess(Math.round((loaded * 100) / total));
  };

  // Tether (server/webapp): the progress bar counts the bytes of a clone
  // and the fetched response itself goes to instantiateStreaming. go-app's
  // loader hands over a Response rebuilt from a stream, which has no URL:
  // Chromium keeps a compiled module in its wasm code cache only for a
  // response fetched from a URL, so every visit compiled the bundle again.
  if (!response.ok || !response.body) {
    return response;
  }
  const reader = response.clone().body.getReader();
  (async () => {
    try {
      for (; ;) {
        const { done, value } = await reader.read();
        if (done) {
          progressHandler(total, total);
          return;
        }
        loaded += value.byteLength;
        progressHandler(loaded, total);
      }
    } catch { }
  })();
  return response;
}
