// The dashboard's two ECharts charts, drawn from the JSON the page carries (#trend-data, #state-data).
// Every point and bar links to the list of cases behind it, as the tables under the charts do.
// Tooltips are drawn on the canvas (renderMode richText): ECharts' HTML tooltips carry style
// attributes, which the Content-Security-Policy refuses.
(function () {
  if (typeof echarts === "undefined") { return; }
  var charts = [];

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function draw(id, option, hrefs) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    // data-drawn once the entry animation is over: tests (and screenshots) wait for it.
    chart.on("finished", function () { el.dataset.drawn = "1"; });
    option.animation = false;  // figures, not a show: draw at once (and the same in every screenshot)
    chart.setOption(option);
    chart.on("click", function (p) {
      var list = hrefs[p.seriesIndex] || [];
      if (list[p.dataIndex]) { window.location = list[p.dataIndex]; }
    });
    charts.push(chart);
  }

  var trend = data("trend-data");
  if (trend) {
    draw("trend-chart", {
      color: ["#0550ae", "#1a7f37"],
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 32, bottom: 48 },
      xAxis: { type: "category", data: trend.weeks, axisLabel: { rotate: 45 } },
      yAxis: { type: "value", minInterval: 1 },
      series: trend.series.map(function (s) {
        return { name: s.name, type: "line", data: s.values, symbolSize: 7, showAllSymbol: true, cursor: "pointer" };
      })
    }, trend.series.map(function (s) { return s.hrefs; }));
  }

  // Bar charts: any element with data-bar naming its JSON ({labels, values, hrefs}).
  document.querySelectorAll("[data-bar]").forEach(function (el) {
    var bars = data(el.dataset.bar);
    if (!bars) { return; }
    draw(el.id, {
      color: [el.dataset.color || "#b3261e"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" },
      grid: { left: 40, right: 16, top: 16, bottom: 96 },
      xAxis: { type: "category", data: bars.labels, axisLabel: { rotate: 45, interval: 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: bars.values, cursor: "pointer" }]
    }, [bars.hrefs]);
  });

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
