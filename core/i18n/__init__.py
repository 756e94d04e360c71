"""Languages: message catalogues and choosing a request's locale."""
