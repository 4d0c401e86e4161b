// The impersonation banner is rendered with the first component on the page, which
// may sit in a header whose transform or backdrop-filter would pin a fixed element
// to that header: move it to <body>, so it floats over the page's corner. Without
// JavaScript it stays where it was rendered, still visible.
for (const banner of document.querySelectorAll(".cl-impersonationRoot")) {
  document.body.appendChild(banner);
}
