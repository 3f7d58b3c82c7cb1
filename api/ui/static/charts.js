/* Draws every plot of a page from the JSON embedded beside it, with the vendored uPlot.
   A container: <div class="plot" data-plot="ID" data-kind="time|spark|stages|scatter">, and its data in
   <script type="application/json" id="ID">{"x": [...], "series": {"name": [...]}}</script>
   (kind "stages": x is 0..n-1 and "labels" names each point, e.g. journey stages).
   Sets data-drawn="1" on each container once drawn (the browser tests wait for it). */
(function () {
  "use strict";
  var COLOURS = ["#2f5bd3", "#1f8a4c", "#c0392b", "#b7791f", "#7b3fb5", "#138496", "#6c757d", "#e83e8c"];

  function draw(box) {
    var source = document.getElementById(box.getAttribute("data-plot"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var kind = box.getAttribute("data-kind") || "time";
    var names = Object.keys(data.series);
    var columns = [data.x].concat(names.map(function (n) { return data.series[n]; }));
    var spark = kind === "spark";
    var labels = kind === "stages" ? data.labels : null;  // a category axis: journey stages
    var scatter = kind === "scatter";  // points only; x ascending, a series per group
    var width = Math.max(120, box.clientWidth - (spark ? 0 : 16));
    var opts = {
      width: width,
      height: spark ? 28 : 260,
      legend: { show: !spark },
      cursor: { show: !spark },
      scales: { x: labels ? { time: false, range: [-0.3, labels.length - 0.7] }
                          : scatter ? { time: false, range: [0, 1] } : { time: !spark } },
      axes: spark ? [{ show: false }, { show: false }]
        : labels ? [{ splits: function () { return labels.map(function (_, i) { return i; }); },
                      values: function (u, splits) { return splits.map(function (i) { return labels[i]; }); } },
                    { size: 60 }]
        : [{}, { size: 60 }],
      series: [data.xLabel ? { label: data.xLabel } : {}].concat(names.map(function (n, i) {
        var colour = (data.colours && data.colours[n]) || COLOURS[i % COLOURS.length];
        if (scatter) {
          return { label: n, stroke: colour, paths: function () { return null; },
                   points: { show: true, size: 10, fill: colour } };
        }
        return { label: n, stroke: colour, width: spark ? 1.5 : 1.25,
                 points: { show: !!labels, size: 7 }, spanGaps: true };
      }))
    };
    new uPlot(opts, columns, box);
    box.setAttribute("data-drawn", "1");
  }

  function drawAll() {
    var boxes = document.querySelectorAll(".plot[data-plot]");
    for (var i = 0; i < boxes.length; i++) { draw(boxes[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
