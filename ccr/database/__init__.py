"""The shared database: PostgreSQL when the config names one, for running past one machine.

    url.py         where the database is (`DATABASE_URL` in the config, else `CCR_DATABASE_URL`)
    migrations.py  the versioned schema, `ccr db upgrade`, and the check at start
    connect.py     a connection pool, with errors that never show the password

Without a database URL ccr keeps everything in SQLite files under $CCR_HOME (one process).
"""
