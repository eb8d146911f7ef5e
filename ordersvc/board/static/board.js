// The live board: follow /api/events/stream (Server-Sent Events, id = global position), update
// rows in place, poll the figures, and show an order's timeline beside the table on click.
(function () {
  "use strict";
  var body = document.body;
  var tbody = document.querySelector("#orders tbody");
  var status = document.getElementById("connection");
  var panel = document.getElementById("timeline");

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }

  function age(created) {
    var s = Math.max(0, Math.round((Date.now() - Date.parse(created)) / 1000));
    return s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min" : Math.floor(s / 3600) + " h";
  }

  function upsert(order) {
    var row = document.getElementById("order-" + order.order_id);
    if (row && Number(row.dataset.version) >= order.version) { return; }  // already shown
    var fresh = document.createElement("tr");
    fresh.id = "order-" + order.order_id;
    fresh.dataset.version = order.version;
    fresh.dataset.created = order.created_on;
    var link = text("a", order.order_id);
    link.href = "/board/orders/" + encodeURIComponent(order.order_id);
    var cell = document.createElement("td");
    cell.appendChild(link);
    fresh.appendChild(cell);
    fresh.appendChild(text("td", order.customer_id));
    fresh.appendChild(text("td", order.amount, "num"));
    fresh.appendChild(text("td", order.status, "status status-" + order.status.toLowerCase()));
    fresh.appendChild(text("td", age(order.created_on), "age"));
    fresh.className = "changed";
    if (row) { tbody.replaceChild(fresh, row); } else { tbody.insertBefore(fresh, tbody.firstChild); }
    while (tbody.rows.length > 100) { tbody.deleteRow(tbody.rows.length - 1); }
    setTimeout(function () { fresh.className = ""; }, 1500);
  }

  function tickAges() {
    Array.prototype.forEach.call(tbody.rows, function (row) {
      row.querySelector(".age").textContent = age(row.dataset.created);
    });
  }

  function drawChart(series) {
    var svg = document.getElementById("chart");
    var top = Math.max.apply(null, series.concat([1]));
    var step = 300 / series.length;
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    series.forEach(function (n, i) {
      var bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      var h = 60 * n / top;
      bar.setAttribute("x", i * step);
      bar.setAttribute("y", 60 - h);
      bar.setAttribute("width", Math.max(step - 1, 1));
      bar.setAttribute("height", h);
      svg.appendChild(bar);
    });
  }

  function figures() {
    fetch("/api/board/stats").then(function (r) { return r.json(); }).then(function (s) {
      Object.keys(s.counts).forEach(function (k) {
        var el = document.getElementById("count-" + k.toLowerCase());
        if (el) { el.textContent = s.counts[k]; }
      });
      document.getElementById("rate").textContent = s.orders_per_second;
      document.getElementById("backlog").textContent = s.outbox_backlog === null ? "n/a" : s.outbox_backlog;
      document.getElementById("dead-letters").textContent = s.dead_letters === null ? "n/a" : s.dead_letters;
      drawChart(s.series);
    }).catch(function () { /* the next poll will do */ });
  }

  function showTimeline(orderId) {
    fetch("/api/board/orders/" + encodeURIComponent(orderId)).then(function (r) { return r.json(); })
      .then(function (t) {
        panel.textContent = "";
        panel.appendChild(text("h2", "Order " + t.order_id));
        var events = document.createElement("ol");
        t.events.forEach(function (e) {
          events.appendChild(text("li", e.created_at + "  " + e.event_type + "  v" + e.version));
        });
        panel.appendChild(events);
        if (t.saga) {
          panel.appendChild(text("p", "saga: " + t.saga.state + "; compensations: " +
            (t.saga.compensations.length ? t.saga.compensations.join(", ") : "none")));
        } else {
          panel.appendChild(text("p", "no saga recorded (yet)"));
        }
        if (t.trace_url) {
          var a = text("a", "trace " + t.trace_id + " in Zipkin");
          a.href = t.trace_url;
          a.id = "trace-link";
          panel.appendChild(a);
        } else if (t.trace_id) {
          panel.appendChild(text("p", "trace " + t.trace_id));
        }
        panel.hidden = false;
      });
  }

  tbody.addEventListener("click", function (ev) {
    var link = ev.target.closest("a");
    if (!link) { return; }
    ev.preventDefault();
    showTimeline(link.textContent);
  });

  var source = new EventSource("/api/events/stream?last_event_id=" + encodeURIComponent(body.dataset.after));
  source.addEventListener("open", function () { status.textContent = "live"; });
  source.addEventListener("error", function () { status.textContent = "reconnecting..."; });
  source.addEventListener("order", function (ev) {
    var event = JSON.parse(ev.data);
    if (event.order) { upsert(event.order); }
  });
  status.textContent = "connecting...";
  tickAges();
  setInterval(tickAges, 1000);
  setInterval(figures, 2000);
})();
