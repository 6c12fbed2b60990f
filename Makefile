# Shortcuts for scripts/dev.sh, which does all set-up itself (venv, packages, footage).
.PHONY: demo test bench setup clean
demo test bench setup:
	./scripts/dev.sh $@
clean:
	rm -rf var build *.egg-info
