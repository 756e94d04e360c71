"""Reference data the forms and the matching share: occupations, languages, countries, levels."""
