// The web UI's inbox, kept current without reloading: each `inbox` event of
// /ui/inbox/stream (an ets_api::InboxItem as JSON) is added at the top of
// the list, replacing an item with the same key; a `settled` event removes
// the item it names. Text is set with textContent, never as markup.
(function () {
  "use strict";
  var list = document.getElementById("inbox");
  if (!list || !window.EventSource) {
    return;
  }
  var empty = document.getElementById("inbox-empty");
  var status = document.getElementById("inbox-live");
  function find(key) {
    var items = list.children;
    for (var i = 0; i < items.length; i += 1) {
      if (items[i].getAttribute("data-key") === key) {
        return items[i];
      }
    }
    return null;
  }
  function showEmpty() {
    if (empty) {
      empty.hidden = list.children.length > 0;
    }
  }
  var source = new EventSource("/ui/inbox/stream");
  source.addEventListener("subscribed", function () {
    list.setAttribute("data-live", "true");
    if (status) {
      status.textContent = "Live: new items appear here as they arrive.";
    }
  });
  source.addEventListener("inbox", function (event) {
    var item = JSON.parse(event.data);
    var old = find(item.key);
    if (old) {
      list.removeChild(old);
    }
    if (item.kind !== "settled") {
      var entry = document.createElement("li");
      entry.setAttribute("data-key", item.key);
      entry.setAttribute("data-kind", item.kind);
      var link = document.createElement("a");
      link.href = item.link;
      link.textContent = item.summary;
      entry.appendChild(link);
      list.insertBefore(entry, list.firstChild);
    }
    showEmpty();
  });
  source.addEventListener("forbidden", function () {
    source.close();
    list.removeAttribute("data-live");
    if (status) {
      status.textContent = "No longer live: sign in again.";
    }
  });
  source.onerror = function () {
    list.removeAttribute("data-live");
    if (status) {
      status.textContent = "Reconnecting…";
    }
  };
})();
