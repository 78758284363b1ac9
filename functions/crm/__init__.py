"""The lab's CRM: its HTTP API (``api``), its creates, changes and imports of customers
(``customers``), the types of its request bodies, by which the CLI checks a CSV file's rows
too (``customer_bodies``), and the lab's customer CSV with the seed customers packaged
beside it (``customer_file``, ``data/customer-database.csv``).
"""
