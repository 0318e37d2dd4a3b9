// Progressive enhancements only: every page works without this file.
//
// A classic script in <head>, written for old browsers (ES5), so it runs
// everywhere JavaScript runs. Before the page is painted it marks <html>
// with "js", and with "no-search" when this browser cannot run search.js
// (an ES2017 module that needs Unicode property escapes): the CSS then shows
// the print button, reserves room, or keeps the "search cannot run here"
// note visible, with nothing appearing or moving after the first paint.
(function () {
  var root = document.documentElement;
  var canSearch = 'noModule' in document.createElement('script');
  if (canSearch) {
    try {
      new RegExp('\\p{L}', 'u');
    } catch (e) {
      canSearch = false;
    }
  }
  root.className += ' js' + (canSearch ? '' : ' no-search');

  var loaded = false;
  function loadSearch(form) {
    if (loaded || !canSearch) return;
    loaded = true;
    var s = document.createElement('script');
    s.type = 'module';
    s.src = form.getAttribute('data-module');
    s.setAttribute('data-search-module', '');
    s.onerror = function () { root.className += ' no-search'; };
    document.head.appendChild(s);
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  // "Oggi: 09:00-12:30" on a desk card, from the hours the page carries.
  function today(el) {
    var hours;
    try {
      hours = JSON.parse(el.getAttribute('data-today'));
    } catch (e) {
      return;
    }
    var now = new Date();
    var day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][now.getDay()];
    var ranges = [];
    for (var i = 0; i < hours.length; i++) {
      if (hours[i].days.indexOf(day) >= 0) ranges.push(hours[i].opens + '\u2013' + hours[i].closes);
    }
    var text = ranges.length
      ? el.getAttribute('data-t-open') + ' ' + ranges.join(', ')
      : el.getAttribute('data-t-closed');
    el.textContent = text;
    el.setAttribute('data-now', pad(now.getHours()) + ':' + pad(now.getMinutes()));
  }

  document.addEventListener('DOMContentLoaded', function () {
    var i;
    var prints = document.querySelectorAll('[data-print]');
    for (i = 0; i < prints.length; i++) {
      prints[i].addEventListener('click', function () { window.print(); });
    }
    var days = document.querySelectorAll('[data-today]');
    for (i = 0; i < days.length; i++) today(days[i]);

    var forms = document.querySelectorAll('form[data-search]');
    var q = null;
    var m = /[?&]q=([^&#]*)/.exec(location.search);
    if (m) {
      try {
        q = decodeURIComponent(m[1].replace(/\+/g, ' '));
      } catch (e) {
        q = null;
      }
    }
    for (i = 0; i < forms.length; i++) {
      (function (form) {
        var input = form.querySelector('input[name="q"]');
        if (!input) return;
        // The search page keeps the words of its address in the box, also
        // where search cannot run, and then starts the search at once.
        if (form.getAttribute('data-search') === 'page' && q) {
          input.value = q;
          loadSearch(form);
        }
        var start = function () { loadSearch(form); };
        input.addEventListener('focus', start);
        input.addEventListener('input', start);
        if (document.activeElement === input) start();
      })(forms[i]);
    }
  });
})();
