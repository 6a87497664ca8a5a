"""Use cases: one public function = one transaction = change + timeline + outbox rows."""
