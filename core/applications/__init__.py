"""Applications to join a cohort as mentee or mentor, and the coordinators' intake."""
