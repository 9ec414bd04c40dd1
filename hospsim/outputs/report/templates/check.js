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
    // Content wider than the page (clipped when printed): tables, figures and code blocks whose
    // right edge passes the page's width; hidden ones have no width and do not count.
    var width = document.documentElement.clientWidth, over = 0;
    var boxes = document.querySelectorAll('table, figure, img, pre');
    for (var j = 0; j < boxes.length; j++) {
      var r = boxes[j].getBoundingClientRect();
      if (r.width > 0 && r.right > width + 1) { over += 1; }
    }
    body.setAttribute('data-overflow', String(over));
    body.setAttribute('data-ready', 'yes');
  });
})();
