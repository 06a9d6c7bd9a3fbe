/** Dependency-free SVG figures, an HTML report page, and Jupyter rich display. Runs in Node, Deno and browsers. */

export { heatmap, type HeatmapInput } from "./heatmap.ts";
export { barChart, type BarChartInput } from "./bar-chart.ts";
export { lineChart, type LineChartInput, type LineSeries } from "./line-chart.ts";
export { scatterChart, type ScatterChartInput } from "./scatter-chart.ts";
export { Figure, type FigureInit } from "./figure.ts";
export { htmlDisplay, JUPYTER_DISPLAY, type HtmlDisplay, type JupyterDisplayable, type MimeBundle } from "./jupyter-display.ts";
export { renderReportHtml, type ReportInput, type ReportSection, type ReportTable } from "./report-html.ts";
export { BAD_FIGURE_INPUT } from "./input-checks.ts";
export { escapeXml } from "./escape-xml.ts";
export type { ColorScaleKind } from "./color-scales.ts";
export { circuitDiagram, type CircuitDiagramInput, type DiagramEdge, type DiagramNode, type DiagramNodeKind } from "./circuit-diagram.ts";
export { clippedProbabilityRange, sharedSymmetricRange } from "./color-ranges.ts";
