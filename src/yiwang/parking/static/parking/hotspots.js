// The hotspot page's bar chart of violations by hour, from the JSON the page carries (#hour-data).
(function () {
  if (typeof echarts === "undefined") { return; }
  document.querySelectorAll("[data-hour-bars]").forEach(function (el) {
    var bars = JSON.parse(document.getElementById(el.dataset.hourBars).textContent);
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.on("finished", function () { el.dataset.drawn = "1"; });  // tests and screenshots wait for it
    chart.setOption({
      animation: false,
      color: ["#b3261e"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" },
      grid: { left: 40, right: 16, top: 16, bottom: 40 },
      xAxis: { type: "category", data: bars.labels, axisLabel: { interval: 1 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: bars.values }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
