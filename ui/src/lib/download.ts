// Saving text the UI already has (an export) as a file through the browser's download.

/** Offer `text` as a download named `name`. */
export function saveText(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.rel = "noopener";
  link.style.display = "none";
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The download has taken its copy once the click's task ran.
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 0);
}
