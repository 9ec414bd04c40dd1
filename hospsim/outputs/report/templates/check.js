(function () {
  var errors = 0;
  window.addEventListener('error', function () { errors += 1; }, true);
  var original = console.error;
  console.error = function () { errors += 1; return original.apply(console, arguments); };
  window.addEventListener('load', function () {
    var images = document.images, loaded = 0;
    for (var i = 0; i < images.length; i++) {
      if (images[i].complete && images[i].naturalWidth > 0) { loaded += 1; }
    }
    var body = document.body;
    body.setAttribute('data-images', String(images.length));
    body.setAttribute('data-images-loaded', String(loaded));
    body.setAttribute('data-errors', String(errors));
    body.setAttribute('data-ready', 'yes');
  });
})();
