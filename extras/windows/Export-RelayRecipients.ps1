<#
.SYNOPSIS
    Export every SMTP proxy address from Active Directory in virtual.txt form and push it to the
    mail relays (mailrelay.exchange push path).

.DESCRIPTION
    Searches AD with paged results (Get-ADObject pages through -ResultPageSize, so directories
    larger than MaxPageSize are read whole) for every object with an SMTP proxy address: users,
    groups, contacts and mail-enabled public folders. Writes one line per address,
    "alias: SMTP:user@example.com", the format relay_recipient_map reads with format=virtual,
    ends the file with the end marker "#mailrelay-end lines=N sha256=HEX" (the number of lines
    before it and the SHA-256 of every byte before it), and uploads it over SFTP with a key to
    each relay's restricted upload account (the relay_recipients role's relayupload).

    That account may write exactly one existing file, <chroot>/drop/virtual.txt, and may not
    create, rename or remove anything, so the file is written in place. The relay builds only
    from a closed upload whose end marker matches its content: a transfer cut short is refused
    and the relay keeps its map (relay_recipient_map require_end_marker).

    The relay applies its own safety gate (minimum count, maximum shrink, must-exist addresses)
    before it installs anything; -MinimumCount stops an obviously broken export here already.
    Exit code 0 when every relay took the file, 1 otherwise: a scheduled task shows the failure.

.EXAMPLE
    .\Export-RelayRecipients.ps1 -RelayHost relay1.example.com,relay2.example.com -MinimumCount 500

.NOTES
    Needs the ActiveDirectory module (RSAT) and the Windows OpenSSH client (sftp.exe).
    The private key must be readable only by the account the scheduled task runs as.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string[]] $RelayHost,
    [string] $User = 'relayupload',
    [string] $KeyFile = (Join-Path $env:ProgramData 'MailRelay\upload_ed25519'),
    [string] $KnownHostsFile = (Join-Path $env:ProgramData 'MailRelay\known_hosts'),
    [string] $RemoteName = 'virtual.txt',
    [string[]] $SearchBase,
    [string] $Server,
    [ValidateRange(1, 1000)]
    [int] $PageSize = 1000,
    [int] $MinimumCount = 1,
    [string] $OutFile = (Join-Path $env:ProgramData 'MailRelay\virtual.txt')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module ActiveDirectory

if (-not $SearchBase) {
    $SearchBase = @((Get-ADDomain).DistinguishedName)
}

$lines = [System.Collections.Generic.List[string]]::new()
foreach ($base in $SearchBase) {
    $query = @{
        LDAPFilter     = '(proxyAddresses=smtp:*)'
        SearchBase     = $base
        SearchScope    = 'Subtree'
        Properties     = @('proxyAddresses', 'mailNickname')
        ResultPageSize = $PageSize
        ResultSetSize  = $null
    }
    if ($Server) { $query.Server = $Server }
    foreach ($object in Get-ADObject @query) {
        $alias = if ($object.mailNickname) { $object.mailNickname } else { $object.Name }
        foreach ($proxy in $object.proxyAddresses) {
            # SMTP: is the primary address, smtp: a secondary one; X400:, X500:, SIP: and the rest are not mail addresses.
            if ($proxy -match '^smtp:') {
                $lines.Add(('{0}: {1}' -f ($alias -replace '[\r\n:]', '_'), $proxy))
            }
        }
    }
}

if ($lines.Count -lt $MinimumCount) {
    Write-Error ("Export found {0} addresses, fewer than -MinimumCount {1}; nothing uploaded." -f $lines.Count, $MinimumCount)
    exit 1
}

$directory = Split-Path -Parent $OutFile
New-Item -ItemType Directory -Force -Path $directory | Out-Null
$temporary = "$OutFile.tmp"
# UTF-8 without a byte-order mark, LF line ends, then the end marker: the number
# of lines before it and the SHA-256 of every byte before it.
$unique = @($lines | Sort-Object -Unique)
$body = [System.Text.UTF8Encoding]::new($false).GetBytes(($unique -join "`n") + "`n")
$sha256 = [System.Security.Cryptography.SHA256]::Create()
$digest = ([System.BitConverter]::ToString($sha256.ComputeHash($body)) -replace '-', '').ToLowerInvariant()
$marker = [System.Text.Encoding]::ASCII.GetBytes(('#mailrelay-end lines={0} sha256={1}' -f $unique.Count, $digest) + "`n")
[System.IO.File]::WriteAllBytes($temporary, [byte[]]($body + $marker))
Move-Item -Force -Path $temporary -Destination $OutFile
Write-Output ("Exported {0} addresses to {1}" -f $unique.Count, $OutFile)

$failed = 0
foreach ($relay in $RelayHost) {
    $batch = New-TemporaryFile
    try {
        # The one file the account may write, in place (see DESCRIPTION).
        Set-Content -Path $batch -Encoding ascii -Value @(
            "put `"$OutFile`" `"$RemoteName`""
        )
        & sftp.exe -b $batch -i $KeyFile -o BatchMode=yes -o StrictHostKeyChecking=yes `
            -o "UserKnownHostsFile=$KnownHostsFile" "$User@$relay"
        if ($LASTEXITCODE -ne 0) {
            throw "sftp exited with $LASTEXITCODE"
        }
        Write-Output "Uploaded to $relay"
    }
    catch {
        Write-Warning "Upload to $relay failed: $_"
        $failed++
    }
    finally {
        Remove-Item -Force $batch
    }
}
exit ([int]($failed -gt 0))
