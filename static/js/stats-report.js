/* The statistics page's two charts (Chart.js, vendored in static/vendor/): volume and median times per day,
   from the report the page carries as JSON. */
(function () {
  "use strict";
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function draw() {
    var report = data("stats-data");
    var label = data("stats-labels") || {};
    if (!report || !window.Chart) return;
    var days = report.days.map(function (row) {
      return row.day;
    });
    var pick = function (name) {
      return report.days.map(function (row) {
        return row[name];
      });
    };
    var median = function (name) {
      return report.days.map(function (row) {
        return row[name].median;
      });
    };
    var volume = document.getElementById("stats-chart-volume");
    var times = document.getElementById("stats-chart-times");
    if (volume) {
      new window.Chart(volume, {
        type: "bar",
        data: {
          labels: days,
          datasets: [
            { label: label.opened, data: pick("conversations_opened"), yAxisID: "y" },
            { label: label.visitor, data: pick("messages_visitor"), type: "line", yAxisID: "y1" },
            { label: label.agent, data: pick("messages_agent"), type: "line", yAxisID: "y1" },
          ],
        },
        options: { animation: false, scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: "right" } } },
      });
    }
    if (times) {
      new window.Chart(times, {
        type: "line",
        data: {
          labels: days,
          datasets: [
            { label: label.first, data: median("first_response"), spanGaps: true },
            { label: label.resolution, data: median("resolution"), spanGaps: true },
            { label: label.wait, data: median("queue_wait"), spanGaps: true },
          ],
        },
        options: { animation: false, scales: { y: { beginAtZero: true } } },
      });
    }
    document.documentElement.dataset.statsCharts = "drawn";
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
