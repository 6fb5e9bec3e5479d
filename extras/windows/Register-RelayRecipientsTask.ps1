<#
.SYNOPSIS
    Register a scheduled task that runs Export-RelayRecipients.ps1 every 15 minutes.

.EXAMPLE
    .\Register-RelayRecipientsTask.ps1 -RelayHost relay1.example.com,relay2.example.com -Account 'CORP\svc-mailrelay$'
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string[]] $RelayHost,
    # A group-managed service account (ends in $) needs no stored password.
    [Parameter(Mandatory = $true)]
    [string] $Account,
    [string] $ScriptPath = (Join-Path $env:ProgramData 'MailRelay\Export-RelayRecipients.ps1'),
    [int] $IntervalMinutes = 15,
    [int] $MinimumCount = 1
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -RelayHost {1} -MinimumCount {2}' -f `
    $ScriptPath, ($RelayHost -join ','), $MinimumCount
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $arguments
$trigger = New-ScheduledTaskTrigger -Once -At (Get-Date).Date -RepetitionInterval (New-TimeSpan -Minutes $IntervalMinutes)
$principal = New-ScheduledTaskPrincipal -UserId $Account -LogonType Password -RunLevel Limited
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Minutes 10) -MultipleInstances IgnoreNew `
    -StartWhenAvailable
Register-ScheduledTask -TaskName 'MailRelay recipient export' -Action $action -Trigger $trigger `
    -Principal $principal -Settings $settings -Force
