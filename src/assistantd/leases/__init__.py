"""Leases: which node executes a durable job (a run, a background response) and with which
attempt, on PostgreSQL. One mechanism for every table of leases: the SQL (`store`) and the
heartbeat that renews them (`heartbeat`); what a job does when it is taken over is its own."""
