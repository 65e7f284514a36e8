"""Hill muscle-tendon units, neural delays and Geyer/Song reflex modules."""
