# The C-tools baseline of bench section 1: ldapsearch LDIF (unwrapped) in,
# "address<TAB>OK" lines of the relay domains out, for sort -u and postmap.
tolower($1) == "proxyaddresses:" && tolower(substr($2, 1, 5)) == "smtp:" {
    address = tolower(substr($2, 6))
    if (address ~ /@example\.(com|org)$/) print address "\tOK"
}
