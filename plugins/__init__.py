"""Built-in Tandem plugins. Each is an ordinary package registered through the
``tandem.plugins`` entry point group, exactly like a third-party plugin."""
