"""Segments: saved, named sets of contacts (dynamic condition trees compiled to SQL, or static lists), RFM scores and
temperature from behaviour."""
