#!/bin/sh
# alert-mail.sh - an [alerts] on_attention command: reads the run's JSON
# summary on stdin and mails it. Set in the config:
#   [alerts]
#   on_attention = /usr/local/share/wxrecon/alert-mail.sh finance@example.com
# Any command works (a webhook with curl, a chat bot...); its failure is
# logged by wxrecon and never changes the run's result.
set -eu
to=${1:?usage: alert-mail.sh ADDRESS}
summary=$(cat)
state=$(printf '%s' "$summary" | sed -n 's/^{[^{]*"state":"\([a-z]*\)".*/\1/p')
job=$(printf '%s' "$summary" | sed -n 's/.*"job":"\([^"]*\)".*/\1/p')
subject="wxrecon: $job run needs attention ($state)"
if command -v mail >/dev/null 2>&1; then
	printf '%s\n' "$summary" | mail -s "$subject" "$to"
else
	printf '%s\n%s\n' "$subject" "$summary" | logger -t wxrecon
fi
