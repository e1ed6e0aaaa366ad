"""The processes: web (HTTP), worker (Socket Mode) and clock (the scheduler), and their periodic jobs."""
