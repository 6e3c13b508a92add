"""What every part of envalert shares, importing none of them: the reading contract, the station
catalogue, the shared settings (Kafka and its topic names, InfluxDB), the InfluxDB writers, and
the plumbing every process uses."""
