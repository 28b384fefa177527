"""Benchmark readers that yield one plain question record type (``record.QuestionRecord``): one module
per benchmark, the row helpers they share in ``rows``. Import from the modules."""
