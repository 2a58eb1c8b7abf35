// Apply the saved theme before first paint so there is no flash. A file, not an inline
// script, so the Content Security Policy can forbid inline scripts altogether.
;(function () {
  try {
    var t = localStorage.getItem('hubbub.theme')
    var dark = t === 'dark' || (t !== 'light' && matchMedia('(prefers-color-scheme: dark)').matches)
    document.documentElement.classList.toggle('dark', dark)
  } catch (e) {}
})()
