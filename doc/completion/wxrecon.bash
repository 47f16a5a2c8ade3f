# bash completion for wxrecon(1)
_wxrecon() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmds="actions approve assign audit bill certs comment config discrepancies help init ledger
		notify order prune reconcile refund report resolve run runs sweep unlock version"
	local i cmd= sub=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c | --config | --db) ((i++)) ;;
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=${COMP_WORDS[i]}; elif [[ -z $sub ]]; then sub=${COMP_WORDS[i]}; fi ;;
		esac
	done
	case $prev in
	-c | --config | --db | -o | --orders | --refunds | --account-file | --name-file)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--format) COMPREPLY=($(compgen -W "csv json html xlsx" -- "$cur")); return ;;
	--kind)
		if [[ $cmd == discrepancies || $cmd == resolve ]]; then
			COMPREPLY=($(compgen -W "MISSING_IN_LEDGER MISSED_PAYMENT MISSING_IN_BILL AMOUNT_MISMATCH
				REFUND_MISSING_IN_LEDGER REFUND_MISSING_IN_BILL REFUND_AMOUNT_MISMATCH
				REFUND_STATUS_MISMATCH DUPLICATE_PAYMENT BILL_SUMMARY_MISMATCH BILL_MISSING
				BALANCE_DISCONTINUITY FEE_MISMATCH" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "trade fundflow all" -- "$cur"))
		fi
		return ;;
	--severity) COMPREPLY=($(compgen -W "low medium high critical" -- "$cur")); return ;;
	--assignee) COMPREPLY=($(compgen -W "none" -- "$cur")); return ;;
	--status) COMPREPLY=($(compgen -W "open resolved all" -- "$cur")); return ;;
	esac
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-c --config --db -v --verbose -q --quiet --json -h --help -V --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	bill) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "fetch import" -- "$cur")); return; } ;;
	sweep) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "orders refunds" -- "$cur")); return; } ;;
	ledger) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "import" -- "$cur")); return; } ;;
	config) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "check" -- "$cur")); return; } ;;
	certs) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "update list" -- "$cur")); return; } ;;
	order) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "create sign" -- "$cur")); return; } ;;
	refund) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "abnormal create" -- "$cur")); return; } ;;
	notify) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "serve" -- "$cur")); return; } ;;
	help) COMPREPLY=($(compgen -W "$cmds" -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		# the options the command's usage names
		local opts
		opts=$(wxrecon $cmd $sub -h 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
		COMPREPLY=($(compgen -W "$opts --date --from --to --yesterday" -- "$cur"))
	fi
}
complete -F _wxrecon wxrecon
