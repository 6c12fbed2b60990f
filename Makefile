# Shortcuts for scripts/dev.sh, which does all set-up itself (venv, packages, footage).
.PHONY: demo quick test bench setup clean
demo quick test bench setup:
	./scripts/dev.sh $@
clean:
	rm -rf var build *.egg-info
