"""Measuring the journey: KPIs from the event log, surveys' scores, process
mining (XES / OCEL 2.0 export, directly-follows graph, conformance of the
actual journeys against the designed one) and the dashboards over them."""
