"""HJ 212-2017, the protocol Chinese monitoring stations and data loggers speak over TCP.

``frame`` cuts a byte stream into frames (length, CRC), ``packet`` reads and writes their data
segment, ``mapping`` turns data packets into our readings, ``gateway`` serves stations and
publishes their readings to MQTT in our contract, so nothing downstream changes.
"""
