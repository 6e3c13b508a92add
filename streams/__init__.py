"""The Faust worker: readings stored and judged, the city's figures, alerts to Kafka."""
