// The report page's chart: drawn by Chart.js (vendored) from the same JSON as the table and the CSV, so the three
// show the very same rows. Series are the columns the report names in `chart.series`.
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("report-data");
    var canvas = document.getElementById("report-chart");
    if (!holder || !canvas || typeof Chart === "undefined") return;
    var data = JSON.parse(holder.textContent);
    var labels = {}, scale = {};
    // Money is integer minor units of params.currency: the chart shows major units (2 decimals unless told).
    var digits = data.params && data.params.money_digits !== undefined ? data.params.money_digits : 2;
    data.columns.forEach(function (c) {
      labels[c.key] = c.label;
      scale[c.key] = c.kind === "money" ? Math.pow(10, digits) : 1;
    });
    var colours = ["#2563eb", "#f59e0b", "#dc2626", "#16a34a", "#7c3aed"];
    var chart = new Chart(canvas, {
      type: data.chart.type,
      data: {
        labels: data.rows.map(function (r) { return r[data.chart.x]; }),
        datasets: data.chart.series.map(function (key, i) {
          return {label: labels[key] || key, data: data.rows.map(function (r) { return r[key] === null ? null : r[key] / scale[key]; }),
                  backgroundColor: colours[i % colours.length], borderColor: colours[i % colours.length]};
        })
      },
      options: {animation: false, responsive: true, scales: {y: {beginAtZero: true}}}
    });
    canvas.dataset.ready = "1";
    canvas.chart = chart;
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
