// Saving what the UI already has (an export, a HAR file) as a file through the browser's download.

/** Offer `text` as a download named `name`. */
export function saveText(name: string, text: string, type: string): void {
  saveBlob(name, new Blob([text], { type }));
}

/** Offer `blob` as a download named `name`. */
export function saveBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.rel = "noopener";
  link.style.display = "none";
  document.body.appendChild(link);
  link.click();
  link.remove();
  // A large file may still be read after the click: the URL lives a while.
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 10_000);
}
